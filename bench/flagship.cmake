# bench/flagship.cmake — the flagship's lean side-by-side benchmark
# (bench/flagship.cc): flat15 and swiss through their vtables against
# boost::unordered_flat_map used bare.  Boost 1.81 headers from
# libboost1.81-dev (/usr/include/boost); flagship.cc refuses an older Boost
# at compile time.  Included by the top-level CMakeLists.txt after mb_impls.

if(EXISTS /usr/include/boost/unordered/unordered_flat_map.hpp)
  add_executable(mb_flagship_bench ${CMAKE_CURRENT_LIST_DIR}/flagship.cc
                                 ${CMAKE_CURRENT_LIST_DIR}/flagship_bare.c)
  target_link_libraries(mb_flagship_bench PRIVATE mb_impls mb_counting_alloc)
  # boost as shipped: its asserts off (the project's Release flags keep NDEBUG unset)
  target_compile_definitions(mb_flagship_bench PRIVATE $<$<NOT:$<CONFIG:Debug>>:NDEBUG>)
  set_target_properties(mb_flagship_bench PROPERTIES LINKER_LANGUAGE CXX)
else()
  message(STATUS "boost::unordered_flat_map not found (libboost1.81-dev): no mb_flagship_bench")
endif()
