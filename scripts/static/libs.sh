# shellcheck shell=bash
# shellcheck disable=SC2154 # cache, prefix, recipe, jobs, packages, dsc_of...: set by scripts/build-static
# scripts/static/libs.sh: how each library of the static nmmm-agent is built from its Debian source
# package, into one musl prefix. Sourced by scripts/build-static, which hashes this folder (with
# the package versions and the toolchain versions) into the prefix's cache key, so any change here
# rebuilds the libraries. Defines functions only; never touches anything outside $prefix and the
# temporary build directory.

# A wrapper compiler: musl-gcc plus the kernel's linux/ asm/ asm-generic/ headers, searched AFTER
# musl's own headers (-idirafter) so that no glibc header is ever picked up.
write_toolchain() { # PREFIX
	local p=$1 arch_asm
	arch_asm=$(dirname "$(dpkg -L linux-libc-dev | grep -m1 '/asm/types\.h$')")
	mkdir -p "$p/kheaders" "$p/bin"
	ln -sfn /usr/include/linux "$p/kheaders/linux"
	ln -sfn /usr/include/asm-generic "$p/kheaders/asm-generic"
	ln -sfn "$arch_asm" "$p/kheaders/asm"
	[ -d /usr/include/mtd ] && ln -sfn /usr/include/mtd "$p/kheaders/mtd"
	cat >"$p/bin/musl-cc" <<-EOF
		#!/bin/sh
		exec musl-gcc -idirafter "$p/kheaders" "\$@"
	EOF
	chmod +x "$p/bin/musl-cc"
	# CMake: search only the prefix for libraries, headers and packages (never the host's glibc ones).
	cat >"$p/toolchain.cmake" <<-EOF
		set(CMAKE_C_COMPILER "$p/bin/musl-cc")
		set(CMAKE_FIND_ROOT_PATH "$p")
		set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
		set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
		set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
		set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
		set(CMAKE_FIND_LIBRARY_SUFFIXES .a)
	EOF
}

# Unpacks a source package without Debian's patches, then applies them in series order except
# those listed in scripts/static/skip-patches. dpkg-source checks the tarballs against the .dsc.
unpack() { # PKG DIR
	local pkg=$1 dir=$2 line name opt
	local msg
	# (gpgv's "no public key" is expected: the .dsc was verified by apt through the signed Release.)
	msg=$(dpkg-source -q -x --skip-patches "${dsc_of[$pkg]}" "$dir" 2>&1) ||
		die "$pkg: dpkg-source could not unpack ${dsc_of[$pkg]}: $msg"
	[ -f "$dir/debian/patches/series" ] || return 0
	while read -r line; do
		line=${line%%#*}
		read -r name opt <<<"$line" || true
		[ -n "$name" ] || continue
		if grep -qx "$pkg $name" "$src/scripts/static/skip-patches"; then
			log "$pkg: skipping Debian patch $name (see scripts/static/skip-patches)"
			continue
		fi
		patch -d "$dir" -s -N --no-backup-if-mismatch "${opt:--p1}" <"$dir/debian/patches/$name" ||
			die "$pkg: Debian patch $name does not apply; add it to scripts/static/skip-patches with a reason or fix it"
	done <"$dir/debian/patches/series"
	# Patches change sources only (build-file patches are skipped): keep autotools from regenerating.
	find "$dir" \( -name configure -o -name Makefile.in -o -name aclocal.m4 -o -name 'config.h.in' \) \
		-exec touch {} +
}

build_zlib() {
	CC=$cc CFLAGS=$cflags ./configure --static --prefix="$P" >/dev/null
	make -j"$jobs" libz.a >/dev/null
	make install >/dev/null
}
build_xz_utils() {
	CC=$cc CFLAGS=$cflags ./configure --prefix="$P" --disable-shared --enable-static --disable-nls \
		--disable-xz --disable-xzdec --disable-lzmadec --disable-lzmainfo --disable-lzma-links \
		--disable-scripts --disable-doc >/dev/null
	make -j"$jobs" >/dev/null
	make install >/dev/null
}
build_libzstd() {
	make -C lib -j"$jobs" CC="$cc" CFLAGS="$cflags" libzstd.a libzstd.pc PREFIX="$P" >/dev/null
	make -C lib CC="$cc" PREFIX="$P" install-static install-includes install-pc >/dev/null
}
build_bzip2() {
	make -j"$jobs" CC="$cc" CFLAGS="$cflags -D_FILE_OFFSET_BITS=64" libbz2.a >/dev/null
	install -m644 bzlib.h "$P/include/"
	install -m644 libbz2.a "$P/lib/"
	# bzip2 ships no pkg-config file.
	printf 'prefix=%s\nName: bzip2\nDescription: bzip2 compression\nVersion: 1.0.8\nLibs: -L${prefix}/lib -lbz2\nCflags: -I${prefix}/include\n' \
		"$P" >"$P/lib/pkgconfig/bzip2.pc"
}
build_openssl() {
	# no-async: musl has no makecontext; no-dso/no-engine: nothing is loaded at run time.
	# --openssldir=/usr/lib/ssl is Debian's (cert.pem and certs/ link to /etc/ssl); the agent also
	# looks for the Red Hat bundle itself (images/), and --ca-file overrides both.
	CC=$cc ./Configure linux-x86_64 --prefix="$P" --libdir=lib --openssldir=/usr/lib/ssl \
		no-shared no-tests no-async no-dso no-engine no-comp no-ssl3 no-weak-ssl-ciphers \
		$cflags >/dev/null
	make -j"$jobs" build_libs >/dev/null
	make install_dev >/dev/null
}
cmake_build() { # extra cmake options...
	cmake -S . -B _b -DCMAKE_TOOLCHAIN_FILE="$P/toolchain.cmake" -DCMAKE_INSTALL_PREFIX="$P" \
		-DCMAKE_INSTALL_LIBDIR=lib -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS="$cflags" \
		-DBUILD_SHARED_LIBS=OFF -DBUILD_TESTING=OFF "$@" >/dev/null
	cmake --build _b -j"$jobs" >/dev/null
	cmake --install _b >/dev/null
}
build_curl() {
	# Only http, https and file; no name-resolution extras, compression or HTTP/2 libraries.
	# No CA path is baked in (it would be this build host's): OpenSSL's defaults are the fallback.
	local off=() p
	for p in FTP DICT TELNET TFTP IMAP POP3 SMTP GOPHER RTSP MQTT LDAP LDAPS SMB; do
		off+=("-DCURL_DISABLE_$p=ON")
	done
	cmake_build "${off[@]}" -DBUILD_CURL_EXE=OFF -DCURL_USE_OPENSSL=ON -DOPENSSL_USE_STATIC_LIBS=ON \
		-DCURL_ZLIB=ON -DCURL_BROTLI=OFF -DCURL_ZSTD=OFF -DUSE_NGHTTP2=OFF -DUSE_LIBIDN2=OFF \
		-DCURL_USE_LIBPSL=OFF -DCURL_USE_LIBSSH2=OFF -DCURL_USE_GSSAPI=OFF -DENABLE_UNIX_SOCKETS=ON \
		-DCURL_CA_BUNDLE=none -DCURL_CA_PATH=none -DCURL_CA_FALLBACK=ON -DENABLE_MANUAL=OFF
	# curl's CMake writes the compiler's own libgcc.a, -lc and absolute .a paths into libcurl.pc
	# (even into Libs); name the dependencies as pkg-config modules instead.
	sed -i -e 's|^Libs:.*|Libs: -L${libdir} -lcurl|' -e 's|^Libs.private:.*|Libs.private: -pthread|' \
		"$P/lib/pkgconfig/libcurl.pc"
	echo 'Requires.private: libssl libcrypto zlib' >>"$P/lib/pkgconfig/libcurl.pc"
}
build_libarchive() {
	cmake_build -DENABLE_ZLIB=ON -DENABLE_LZMA=ON -DENABLE_ZSTD=ON -DENABLE_BZip2=ON \
		-DENABLE_OPENSSL=OFF -DENABLE_MBEDTLS=OFF -DENABLE_NETTLE=OFF -DENABLE_LIBB2=OFF \
		-DENABLE_LZ4=OFF -DENABLE_LZO=OFF -DENABLE_LIBXML2=OFF -DENABLE_EXPAT=OFF \
		-DENABLE_PCREPOSIX=OFF -DENABLE_LIBGCC=OFF -DENABLE_CNG=OFF -DENABLE_ACL=OFF \
		-DENABLE_ICONV=OFF -DENABLE_TAR=OFF -DENABLE_CPIO=OFF -DENABLE_CAT=OFF -DENABLE_TEST=OFF \
		-DPOSIX_REGEX_LIB=NONE
	rm -f "$P"/lib/libarchive.so*
}
build_util_linux() {
	CC=$cc CFLAGS=$cflags ./configure --prefix="$P" --disable-shared --enable-static \
		--disable-all-programs --enable-libblkid --enable-libuuid --disable-nls --without-udev \
		--without-systemd --without-python --without-ncurses --without-ncursesw --without-tinfo \
		--without-readline --without-cap-ng --without-libmagic --without-selinux --without-audit \
		--without-smack --without-econf --without-user --disable-bash-completion \
		--disable-asciidoc --disable-poman >/dev/null
	make -j"$jobs" >/dev/null
	make install >/dev/null
}
build_parted() {
	CC=$cc CFLAGS=$cflags ./configure --prefix="$P" --disable-shared --enable-static \
		--disable-device-mapper --without-readline --disable-nls --disable-debug >/dev/null
	make -j"$jobs" -C lib >/dev/null
	make -j"$jobs" -C libparted >/dev/null
	make -C libparted install >/dev/null
	make -C include install >/dev/null
	# libparted.pc names none of the libraries libparted itself needs when linked statically.
	install -m644 libparted.pc "$P/lib/pkgconfig/"
	echo 'Requires.private: blkid uuid' >>"$P/lib/pkgconfig/libparted.pc"
}
build_json_c() {
	cmake_build -DBUILD_STATIC_LIBS=ON -DDISABLE_EXTRA_LIBS=ON -DBUILD_APPS=OFF
}

# Builds straight into the final prefix; manifest.tsv, written last, marks it complete.
build_prefix() {
	local logs=$cache/logs-$recipe t0 pkg
	rm -rf "$prefix" "$logs"
	mkdir -p "$prefix/include" "$prefix/lib/pkgconfig" "$logs"
	P=$prefix
	write_toolchain "$P"
	cc=$P/bin/musl-cc
	cflags="-O2 -fPIC -ffunction-sections -fdata-sections"
	export PKG_CONFIG_LIBDIR=$P/lib/pkgconfig PKG_CONFIG_PATH="" CPPFLAGS="-I$P/include" LDFLAGS="-L$P/lib"
	work=$(mktemp -d "${TMPDIR:-/tmp}/static-build.XXXXXX")
	trap 'rm -rf "$work" "$manifest_new"' EXIT
	for pkg in "${packages[@]}"; do
		t0=$SECONDS
		log "building $pkg $(awk -v p="$pkg" '$1 == p {print $2}' "$manifest_new")"
		unpack "$pkg" "$work/$pkg"
		# A subshell of its own, not in an || list, so that set -e stops at the first failing step.
		set +e
		(
			set -e
			cd "$work/$pkg"
			"build_${pkg//-/_}"
		) >"$logs/$pkg.log" 2>&1
		status=$?
		set -e
		[ $status -eq 0 ] ||
			die "$pkg failed to build; the last lines of $logs/$pkg.log:$(echo; tail -n 30 "$logs/$pkg.log")"
		rm -rf "${work:?}/$pkg"
		log "built $pkg in $((SECONDS - t0)) s"
	done
	rm -f "$P"/lib/*.la
	cp "$manifest_new" "$P/manifest.tsv"
	rm -rf "$work" "$logs"
}
