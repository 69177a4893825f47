# impls/peers/gort/gort.cmake — the real Go runtime map as a peer (libmbgort.so).
#
# Included by the top-level CMakeLists.txt after peers.cmake.  When `go` is
# found (Debian golang-go), builds gort.go with `go build -buildmode=c-shared`
# into ${CMAKE_BINARY_DIR}/gort/ (libmbgort.so and the generated libmbgort.h)
# as part of the default build, and compiles that path into the probe room as
# MB_GORT_LIB.  mapbench dlopen()s it at run time (go-mem-case), so without Go
# everything else still builds and go-mem-case says the peer is not built.
#
# The Go build is offline and self-contained: no external modules (go.mod has
# no requirements, GOPROXY=off), the build cache and GOPATH under the build
# directory (so it works as any user, without HOME), no user go env file
# (GOENV=off), and the local toolchain only (GOTOOLCHAIN=local, which Go >=
# 1.21 would otherwise use to download a newer one; 1.19 ignores it).
# -buildvcs=false: no git stamping (mapbench records the sha itself), which
# would also fail for a user who does not own the checkout (git's
# safe.directory check).

find_program(GO_EXECUTABLE go)

if(NOT GO_EXECUTABLE)
  message(STATUS "mapbench: go not found: the real-Go peer (go-mem-case) is not built; "
                 "install golang-go (ci/packages.txt)")
  return()
endif()

set(MB_GORT_DIR ${CMAKE_BINARY_DIR}/gort)
set(MB_GORT_LIB ${MB_GORT_DIR}/libmbgort.so)
file(GLOB MB_GORT_SOURCES CONFIGURE_DEPENDS
     ${CMAKE_CURRENT_LIST_DIR}/*.go ${CMAKE_CURRENT_LIST_DIR}/*.h ${CMAKE_CURRENT_LIST_DIR}/go.mod)

add_custom_command(
  OUTPUT ${MB_GORT_LIB} ${MB_GORT_DIR}/libmbgort.h
  COMMAND ${CMAKE_COMMAND} -E env
          GOCACHE=${MB_GORT_DIR}/gocache GOPATH=${MB_GORT_DIR}/gopath
          GOENV=off GOFLAGS= GOPROXY=off GO111MODULE=on GOTOOLCHAIN=local
          CGO_ENABLED=1 CC=${CMAKE_C_COMPILER}
          ${GO_EXECUTABLE} build -buildmode=c-shared -trimpath -buildvcs=false
            -o ${MB_GORT_LIB} .
  WORKING_DIRECTORY ${CMAKE_CURRENT_LIST_DIR}
  DEPENDS ${MB_GORT_SOURCES}
  COMMENT "Building the real-Go map peer (go build -buildmode=c-shared: libmbgort.so)"
  VERBATIM)
# In the default build, but not a dependency of mapbench: a build of one
# target (the sanitizer and planted-defect builds) does not compile Go.
add_custom_target(mbgort ALL DEPENDS ${MB_GORT_LIB})

if(TARGET mb_probe)
  target_compile_definitions(mb_probe PRIVATE MB_GORT_LIB="${MB_GORT_LIB}")
endif()
