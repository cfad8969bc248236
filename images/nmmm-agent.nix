# images/nmmm-agent.nix: the same static nmmm-agent as scripts/build-static, built by Nix with
# nixpkgs' pkgsStatic (musl, every library static). Not built on the project's build machine
# (it has no nixpkgs); tests/integration/static_nix_parse.sh only checks that it parses.
#
#   nix-build images/nmmm-agent.nix                 # result/bin/nmmm-agent
#   nix-build images/nmmm-agent.nix --arg pkgs 'import <nixpkgs> { system = "x86_64-linux"; }'
{ pkgs ? import <nixpkgs> { } }:

pkgs.pkgsStatic.callPackage (
  { lib
  , stdenv
  , cmake
  , pkg-config
  , util-linux
  , parted
  , curl
  , libarchive
  , json-c
  , openssl
  , zlib
  , cmocka
  }:

  stdenv.mkDerivation {
    pname = "nmmm-agent";
    version = "0.1.0";

    # The whole repository, without build trees and editor files.
    src = lib.cleanSourceWith {
      src = lib.cleanSource ../.;
      filter = path: type: !(lib.hasPrefix "build" (baseNameOf path));
    };

    nativeBuildInputs = [ cmake pkg-config ];
    buildInputs = [
      util-linux # libblkid, libuuid
      (parted.override { lvm2 = null; }) # no device-mapper: the agent never uses it
      curl
      libarchive
      json-c
      openssl # libcrypto (SHA-256 through EVP) and TLS for curl
      zlib
      cmocka # unit tests (checkPhase)
    ];

    cmakeFlags = [ "-DNMMM_STATIC=ON" "-DCMAKE_BUILD_TYPE=Release" ];

    # The unit tests only; integration and VM tests need root, loop devices and QEMU.
    doCheck = true;
    checkPhase = ''
      runHook preCheck
      ctest --output-on-failure -L unit
      runHook postCheck
    '';

    installPhase = ''
      runHook preInstall
      install -Dm755 nmmm-agent $out/bin/nmmm-agent
      runHook postInstall
    '';

    meta = {
      description = "Installs NixOS on a Hetzner dedicated server from its rescue system";
      platforms = [ "x86_64-linux" ];
      mainProgram = "nmmm-agent";
    };
  }
) { }
