# bench/threads.cmake — mb_threads, the thread-scaling report of issue 14
# (bench/threads.c): every thread-safe map and the unsynchronized ceiling,
# mixes x threads.  Included at the end of the top-level CMakeLists.txt.
add_executable(mb_threads ${CMAKE_CURRENT_LIST_DIR}/threads.c)
target_link_libraries(mb_threads PRIVATE mb_workloads mb_impls mb_counting_alloc Threads::Threads)
# mb_impls holds C++ peers (absl, libcuckoo, TBB): link with the C++ driver.
set_target_properties(mb_threads PROPERTIES LINKER_LANGUAGE CXX)
