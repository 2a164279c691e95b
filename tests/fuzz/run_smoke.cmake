# Bounded libFuzzer run over a temporary copy of the seed corpus.
#   cmake -DFUZZER=path/fuzz_decode -DCORPUS=tests/fuzz/corpus -DWORK=build/dir -P run_smoke.cmake
foreach(var FUZZER CORPUS WORK)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run_smoke.cmake: -D${var}=... is required")
  endif()
endforeach()
if(NOT EXISTS ${FUZZER})
  message(FATAL_ERROR "fuzzer not built: ${FUZZER}")
endif()
file(GLOB seeds ${CORPUS}/*)
list(LENGTH seeds nseeds)
if(nseeds EQUAL 0)
  message(FATAL_ERROR "seed corpus ${CORPUS} is empty")
endif()

file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK}/corpus ${WORK}/artifacts)
file(COPY ${seeds} DESTINATION ${WORK}/corpus)

execute_process(
  # A fixed seed makes a failure reproducible; long runs by hand should use random seeds.
  COMMAND ${FUZZER} -seed=1 -runs=200000 -max_total_time=60 -max_len=4096 -timeout=10 -rss_limit_mb=2048
          -print_final_stats=1 -artifact_prefix=${WORK}/artifacts/ ${WORK}/corpus
  WORKING_DIRECTORY ${WORK}
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  file(GLOB crashes ${WORK}/artifacts/*)
  message(FATAL_ERROR "fuzz_decode failed (exit ${rc}); reproducers: ${crashes}\n"
                      "replay one with: ${FUZZER} <file>; add it to tests/fuzz/corpus/ once fixed")
endif()
