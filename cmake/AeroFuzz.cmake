# aero_add_fuzzer(NAME SOURCE LIBS... [SMOKE_RUNS N])
#
# One libFuzzer target per decoder (architecture habit 6). Each target gets:
#   * the executable fuzz_<NAME>, built with -fsanitize=fuzzer (plus ASan/UBSan from the preset);
#   * a seed corpus at fuzz/corpus/<NAME>/ (checked in, small);
#   * a CTest test `fuzz.<NAME>` that runs the fuzzer for AERO_FUZZ_SMOKE_RUNS executions over a
#     scratch copy of the seeds, so the normal test run exercises every fuzzer briefly.
if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  message(FATAL_ERROR "AERO_FUZZ needs clang (libFuzzer); use the `fuzz` preset")
endif()

set(AERO_FUZZ_SMOKE_RUNS 20000 CACHE STRING "Executions per fuzzer in the test run")
set(AERO_FUZZ_CORPUS_DIR "${CMAKE_SOURCE_DIR}/fuzz/corpus")

function(aero_add_fuzzer name source)
  cmake_parse_arguments(ARG "" "SMOKE_RUNS" "" ${ARGN})
  set(runs ${AERO_FUZZ_SMOKE_RUNS})
  if(ARG_SMOKE_RUNS)
    set(runs ${ARG_SMOKE_RUNS})  # for targets whose single execution is expensive
  endif()
  set(target fuzz_${name})
  add_executable(${target} ${source})
  target_compile_options(${target} PRIVATE -fsanitize=fuzzer)
  target_link_options(${target} PRIVATE -fsanitize=fuzzer)
  target_link_libraries(${target} PRIVATE ${ARG_UNPARSED_ARGUMENTS} aero_warnings)
  set(seeds "${AERO_FUZZ_CORPUS_DIR}/${name}")
  if(NOT IS_DIRECTORY "${seeds}")
    message(FATAL_ERROR "fuzzer ${name} has no seed corpus at ${seeds}")
  endif()
  set(scratch "${CMAKE_CURRENT_BINARY_DIR}/corpus-${name}")
  add_test(NAME fuzz.${name}
    COMMAND ${CMAKE_COMMAND} -E env
      "ASAN_OPTIONS=detect_leaks=1:abort_on_error=1"
      "UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1"
      $<TARGET_FILE:${target}> -runs=${runs} -max_len=4096
      -seed=1 "${scratch}" "${seeds}")
  set_tests_properties(fuzz.${name} PROPERTIES LABELS fuzz TIMEOUT 300)
  file(MAKE_DIRECTORY "${scratch}")
endfunction()
