/* images.h: the public face of images — pins, verified streaming fetch (libcurl + SHA-256),
 * safe unpack (libarchive), Nix bootstrap, system build and install. Nothing is used before its
 * hash matches. */
#pragma once

#include <json-c/json.h>

#include "common/common.h"
