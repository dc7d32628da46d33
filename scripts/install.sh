#!/usr/bin/env bash
# Installs tabsnap's C library for C/C++ build systems:
#   PREFIX/include/tabsnap.h
#   PREFIX/lib/libtabsnap.so, PREFIX/lib/libtabsnap.a
#   PREFIX/lib/pkgconfig/tabsnap.pc                      pkg-config --cflags --libs tabsnap
#   PREFIX/lib/cmake/tabsnap/tabsnapConfig.cmake         find_package(tabsnap) → tabsnap::tabsnap, tabsnap::tabsnap_static
#
# Usage: scripts/install.sh PREFIX [--profile release|dev]
# Builds the library with cargo (release by default) unless TABSNAP_LIBDIR names a directory holding it built.
set -euo pipefail
PREFIX=${1:?usage: scripts/install.sh PREFIX [--profile release|dev]}
PROFILE=release
if [ "${2:-}" = --profile ]; then PROFILE=${3:?--profile needs a value}; fi
cd "$(dirname "$0")/.."
mkdir -p "$PREFIX"
PREFIX=$(cd "$PREFIX" && pwd)
if [ -n "${TABSNAP_LIBDIR:-}" ]; then
  LIBDIR=$TABSNAP_LIBDIR
else
  cargo build --lib --locked --profile "$PROFILE"
  if [ "$PROFILE" = dev ]; then LIBDIR=target/debug; else LIBDIR=target/$PROFILE; fi
fi
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
# What a static Rust library needs from the C side (rustc --print native-static-libs on Linux).
STATIC_LIBS="-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc"

install -d "$PREFIX/include" "$PREFIX/lib/pkgconfig" "$PREFIX/lib/cmake/tabsnap"
install -m 644 include/tabsnap.h "$PREFIX/include/tabsnap.h"
install -m 755 "$LIBDIR/libtabsnap.so" "$PREFIX/lib/libtabsnap.so"
install -m 644 "$LIBDIR/libtabsnap.a" "$PREFIX/lib/libtabsnap.a"

cat > "$PREFIX/lib/pkgconfig/tabsnap.pc" <<EOF
prefix=$PREFIX
exec_prefix=\${prefix}
libdir=\${exec_prefix}/lib
includedir=\${prefix}/include

Name: tabsnap
Description: BACKUP SNAPSHOT / RESTORE for OLAP engines (C API)
URL: https://github.com/tabsnap/tabsnap
Version: $VERSION
Libs: -L\${libdir} -ltabsnap
Libs.private: $STATIC_LIBS
Cflags: -I\${includedir}
EOF

cat > "$PREFIX/lib/cmake/tabsnap/tabsnapConfig.cmake" <<EOF
# find_package(tabsnap) gives tabsnap::tabsnap (shared) and tabsnap::tabsnap_static.
get_filename_component(_tabsnap_prefix "\${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)
if(NOT TARGET tabsnap::tabsnap)
  add_library(tabsnap::tabsnap SHARED IMPORTED)
  set_target_properties(tabsnap::tabsnap PROPERTIES
    IMPORTED_LOCATION "\${_tabsnap_prefix}/lib/libtabsnap.so"
    INTERFACE_INCLUDE_DIRECTORIES "\${_tabsnap_prefix}/include")
endif()
if(NOT TARGET tabsnap::tabsnap_static)
  add_library(tabsnap::tabsnap_static STATIC IMPORTED)
  set_target_properties(tabsnap::tabsnap_static PROPERTIES
    IMPORTED_LOCATION "\${_tabsnap_prefix}/lib/libtabsnap.a"
    INTERFACE_INCLUDE_DIRECTORIES "\${_tabsnap_prefix}/include"
    INTERFACE_LINK_LIBRARIES "gcc_s;util;rt;pthread;m;dl;c")
endif()
unset(_tabsnap_prefix)
set(tabsnap_FOUND TRUE)
EOF

cat > "$PREFIX/lib/cmake/tabsnap/tabsnapConfigVersion.cmake" <<EOF
set(PACKAGE_VERSION "$VERSION")
if(PACKAGE_FIND_VERSION VERSION_GREATER PACKAGE_VERSION)
  set(PACKAGE_VERSION_COMPATIBLE FALSE)
else()
  string(REGEX MATCH "^[0-9]+\\\\.[0-9]+" _have "\${PACKAGE_VERSION}")
  string(REGEX MATCH "^[0-9]+\\\\.[0-9]+" _want "\${PACKAGE_FIND_VERSION}")
  if(_have STREQUAL _want OR NOT PACKAGE_FIND_VERSION)
    set(PACKAGE_VERSION_COMPATIBLE TRUE)
  else()
    set(PACKAGE_VERSION_COMPATIBLE FALSE)
  endif()
  if(PACKAGE_FIND_VERSION STREQUAL PACKAGE_VERSION)
    set(PACKAGE_VERSION_EXACT TRUE)
  endif()
endif()
EOF
echo "installed tabsnap $VERSION into $PREFIX"
