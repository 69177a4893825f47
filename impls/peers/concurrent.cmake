# impls/peers/concurrent.cmake — the concurrent peers (issue 14), real
# thread-safe hash tables from Debian packages behind the same vtable.
# Included from impls/peers/peers.cmake (after mb_impls exists):
#   cuckoo.cc  libcuckoo-dev  libcuckoo::cuckoohash_map (header only, C++)
#   tbb.cc     libtbb-dev     tbb::concurrent_hash_map (oneTBB, links libtbb)
#   ck.c       libck-dev      Concurrency Kit's ck_ht (links libck)

find_path(MB_LIBCUCKOO_DIR libcuckoo/cuckoohash_map.hh REQUIRED)
find_package(libcuckoo CONFIG REQUIRED)  # only for its version: cuckoo.cc repairs 0.3.1
find_package(TBB REQUIRED)
find_path(MB_CK_DIR ck_ht.h REQUIRED)
find_library(MB_CK_LIB ck REQUIRED)

target_sources(mb_impls PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/cuckoo.cc
  ${CMAKE_CURRENT_LIST_DIR}/tbb.cc
  ${CMAKE_CURRENT_LIST_DIR}/ck.c)
target_include_directories(mb_impls PRIVATE ${MB_LIBCUCKOO_DIR} ${MB_CK_DIR})
target_link_libraries(mb_impls PRIVATE TBB::tbb ${MB_CK_LIB})

# The project's Release flags keep asserts (no NDEBUG).  libcuckoo and TBB
# are shown as shipped, i.e. without their debug assertions, as absl.cc is.
set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/tbb.cc
  PROPERTIES COMPILE_DEFINITIONS "$<$<NOT:$<CONFIG:Debug>>:NDEBUG>")
set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/cuckoo.cc
  PROPERTIES COMPILE_DEFINITIONS
  "MB_LIBCUCKOO_VERSION=\"${libcuckoo_VERSION}\";$<$<NOT:$<CONFIG:Debug>>:NDEBUG>")
