# libFuzzer targets (tests/fuzz/fuzz_*.c): built only with clang and -DHG_FUZZ=ON, in a build
# directory of their own (tests/fuzz/run.sh makes build-fuzz):
#   CC=clang cmake -S . -B build-fuzz -DHG_FUZZ=ON -DHG_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
# Included from tests/CMakeLists.txt, so HG_WARN and the hgcore target are in scope.

option(HG_FUZZ "Build the libFuzzer targets in tests/fuzz (clang only)" OFF)

if(HG_FUZZ AND NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
  message(WARNING "HG_FUZZ needs clang (libFuzzer); ${CMAKE_C_COMPILER_ID} found: fuzz targets skipped. "
                  "Use CC=clang in a separate build directory.")
elseif(HG_FUZZ)
  if(NOT HG_SANITIZE)
    message(WARNING "HG_FUZZ without HG_SANITIZE: the fuzzers only catch crashes, not memory errors or leaks")
  endif()
  # Coverage instrumentation for the code under test. The targets are modified here, after their
  # creation, because tests/ is configured after them. llhttp is instrumented too: its parser
  # states are what the HTTP target explores.
  target_compile_options(hgcore PRIVATE -fsanitize=fuzzer-no-link)
  target_compile_options(llhttp PRIVATE -fsanitize=fuzzer-no-link)

  set(HG_FUZZ_DIR ${CMAKE_CURRENT_LIST_DIR}/../fuzz)
  file(GLOB HG_FUZZ_SRC CONFIGURE_DEPENDS ${HG_FUZZ_DIR}/fuzz_*.c)
  set(HG_FUZZ_TARGETS "")
  foreach(src ${HG_FUZZ_SRC})
    get_filename_component(name ${src} NAME_WE)
    add_executable(${name} ${src})
    target_compile_options(${name} PRIVATE ${HG_WARN} -fsanitize=fuzzer)
    target_link_options(${name} PRIVATE -fsanitize=fuzzer)
    target_include_directories(${name} PRIVATE ${HG_FUZZ_DIR})
    target_link_libraries(${name} PRIVATE hgcore)
    list(APPEND HG_FUZZ_TARGETS ${name})
    # Replay the seed corpus and the regression inputs once (no fuzzing): quick, deterministic.
    string(REPLACE "fuzz_" "" short ${name})
    set(dirs "")
    foreach(d corpus regressions)
      if(EXISTS ${HG_FUZZ_DIR}/${d}/${short})
        list(APPEND dirs ${HG_FUZZ_DIR}/${d}/${short})
      endif()
    endforeach()
    if(dirs)
      add_test(NAME fuzz.replay.${short} COMMAND ${name} -runs=0 -timeout=30 ${dirs})
    endif()
  endforeach()
  add_custom_target(fuzz DEPENDS ${HG_FUZZ_TARGETS})
endif()
