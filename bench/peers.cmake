# bench/peers.cmake — bench/adapter_tax: each peer's adapter vs the library
# used bare.  Included by the top-level CMakeLists.txt after
# impls/peers/peers.cmake (it reuses that file's finds: GLib, absl, Boost,
# sparsehash, Judy, stb_ds, uthash).

add_executable(adapter_tax
  ${CMAKE_CURRENT_LIST_DIR}/adapter_tax.cc
  ${CMAKE_CURRENT_LIST_DIR}/stb_ds_bare.c)
target_include_directories(adapter_tax PRIVATE
  ${MB_STB_DS_DIR} ${MB_UTHASH_DIR} ${MB_SPARSEHASH_DIR} ${MB_JUDY_DIR})
target_link_libraries(adapter_tax PRIVATE mb_impls mb_counting_alloc PkgConfig::GLIB absl::flat_hash_map
                      absl::hash Boost::headers ${MB_JUDY_ARCHIVE})
set_target_properties(adapter_tax PROPERTIES LINKER_LANGUAGE CXX)
# The bare side uses the header libraries as a Release user builds them, as
# the adapters do (peers.cmake): without their asserts.
target_compile_definitions(adapter_tax PRIVATE $<$<NOT:$<CONFIG:Debug>>:NDEBUG>)
# stb_ds's hash shifts a promoted int into the sign bit (see impls/peers/stb_ds.c).
if(MB_SANITIZE MATCHES "undefined")
  set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/stb_ds_bare.c PROPERTIES
    COMPILE_OPTIONS "-fno-sanitize=shift-base")
endif()
