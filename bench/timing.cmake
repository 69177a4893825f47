# bench/timing.cmake — the standalone minimal lookup loop (bench/lookup_loop.c),
# the reference `mapbench time`'s lookups are compared with (issue 12).
# Included at the end of the top-level CMakeLists.txt, after the peers.
add_executable(mb_lookup_loop ${CMAKE_CURRENT_LIST_DIR}/lookup_loop.c)
target_link_libraries(mb_lookup_loop PRIVATE mb_workloads mb_counting_alloc mb_impls)
if(EXISTS ${CMAKE_SOURCE_DIR}/impls/peers/peers.cmake)
  set_target_properties(mb_lookup_loop PROPERTIES LINKER_LANGUAGE CXX) # absl.cc in mb_impls
endif()
