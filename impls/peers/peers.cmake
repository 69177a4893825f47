# impls/peers/peers.cmake — real hash-map libraries as baseline rows.
#
# Included by the top-level CMakeLists.txt after mb_impls, mbtest and (when the
# harness exists) mapbench are defined.  Adds the peer adapters to mb_impls and
# links the libraries they wrap, all from Debian packages:
#   uthash.c  uthash-dev   (header only)
#   stb_ds.c  libstb-dev   (header only, implementation compiled in the adapter)
#   glib.c    libglib2.0-dev  (GHashTable, via pkg-config)
#   absl.cc   libabsl-dev  (absl::flat_hash_map, C++17, via abslConfig.cmake)
#   boost_flat.cc   libboost1.81-dev   (boost::unordered_flat_map, header only)
#   dense_hash.cc, sparse_hash.cc   libsparsehash-dev   (header only)
#   judy.c    libjudy-dev  (JudyL, libJudy.a)

find_package(PkgConfig REQUIRED)
pkg_check_modules(GLIB REQUIRED IMPORTED_TARGET glib-2.0)
find_package(absl REQUIRED)

find_path(MB_STB_DS_DIR stb_ds.h PATH_SUFFIXES stb REQUIRED)
find_path(MB_UTHASH_DIR uthash.h REQUIRED)

target_sources(mb_impls PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/uthash.c
  ${CMAKE_CURRENT_LIST_DIR}/stb_ds.c
  ${CMAKE_CURRENT_LIST_DIR}/glib.c
  ${CMAKE_CURRENT_LIST_DIR}/absl.cc)
target_include_directories(mb_impls PRIVATE ${MB_STB_DS_DIR} ${MB_UTHASH_DIR})
# PRIVATE on a static library still propagates the link (as $<LINK_ONLY:...>).
target_link_libraries(mb_impls PRIVATE PkgConfig::GLIB absl::flat_hash_map absl::hash)

# stb_ds builds hash words with (d[3] << 24) on a promoted int (stb PR #1188):
# UB in C that UBSan's shift-base check rejects for bytes >= 0x80 (in practice
# gcc sign-extends, the defect stb_ds.c describes).  That is library code kept
# as shipped; under UBSan only this one check is turned off for stb_ds.c.
if(MB_SANITIZE MATCHES "undefined")
  set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/stb_ds.c PROPERTIES
    COMPILE_OPTIONS "-fno-sanitize=shift-base")
endif()

# mb_impls now holds C++ objects (absl.cc), so its C consumers must link with
# the C++ driver (libstdc++).  CMake already infers that from a static
# library's languages (mbtest links with c++ without this); it is set
# explicitly for the known consumers so it does not hang on that inference.
foreach(mb_peer_consumer mbtest mapbench)
  if(TARGET ${mb_peer_consumer})
    set_target_properties(${mb_peer_consumer} PROPERTIES LINKER_LANGUAGE CXX)
  endif()
endforeach()

# The project's Release flags are "-O2 -g" without NDEBUG.  absl's header code
# then keeps its asserts and, in non-NDEBUG builds, calls ShouldInsertBackwards
# (iteration-order randomisation) on every insert.  The peer is meant to show
# absl as shipped (Debian builds libabsl with NDEBUG), so absl.cc gets NDEBUG
# in every build type but Debug.
set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/absl.cc PROPERTIES
  COMPILE_DEFINITIONS "$<$<NOT:$<CONFIG:Debug>>:NDEBUG>")

# ---- issue 15's peers: boost_flat, dense_hash, sparse_hash, judy -----------------
# Boost 1.81 is the first with unordered_flat_map; CONFIG mode finds Debian's
# BoostConfig (/usr/lib/x86_64-linux-gnu/cmake/Boost-1.81.0) and refuses an
# older one (libboost1.74-dev would otherwise satisfy a bare find_package).
find_package(Boost 1.81 REQUIRED CONFIG)
find_path(MB_SPARSEHASH_DIR sparsehash/dense_hash_map REQUIRED)
find_path(MB_JUDY_DIR Judy.h REQUIRED)
# Static: judy.c defines libJudy's JudyMalloc / JudyFree hooks (to route its
# nodes through mb_alloc), and with the archive the linker then never pulls
# libJudy.a's own JudyMalloc.o; no dependence on symbol interposition.
find_library(MB_JUDY_ARCHIVE NAMES libJudy.a Judy REQUIRED)

set(MB_PEERS_NEW
  ${CMAKE_CURRENT_LIST_DIR}/boost_flat.cc
  ${CMAKE_CURRENT_LIST_DIR}/dense_hash.cc
  ${CMAKE_CURRENT_LIST_DIR}/sparse_hash.cc)
target_sources(mb_impls PRIVATE ${MB_PEERS_NEW} ${CMAKE_CURRENT_LIST_DIR}/judy.c)
target_include_directories(mb_impls PRIVATE ${MB_SPARSEHASH_DIR} ${MB_JUDY_DIR})
target_link_libraries(mb_impls PRIVATE Boost::headers ${MB_JUDY_ARCHIVE})
# As for absl: boost's and sparsehash's header code is shown as a Release user
# builds it, without its asserts (sparsehash asserts inside its probe loops).
set_source_files_properties(${MB_PEERS_NEW} PROPERTIES
  COMPILE_DEFINITIONS "$<$<NOT:$<CONFIG:Debug>>:NDEBUG>")
include(${CMAKE_CURRENT_LIST_DIR}/concurrent.cmake)  # libcuckoo, TBB, ck (issue 14)
