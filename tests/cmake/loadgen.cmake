# junction-loadgen end to end against junction-server on the fixture model (tests/golden/llama
# + tests/data/byte_tokenizer): the --json / --trace documents, the --rates sweep and its SVG,
# and the timing cross-check against an independent Python relay. Each test starts its own
# server on free loopback ports and is bounded in time.
if(NOT JUNCTION_SERVER OR NOT TARGET junction-loadgen)
  return()
endif()

foreach(name loadgen_test loadgen_timing_test)
  add_test(NAME clients.${name}
    COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/clients/${name}.py
            $<TARGET_FILE:junction-loadgen> $<TARGET_FILE:junction-server>
            ${CMAKE_CURRENT_BINARY_DIR}/${name}
    WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/clients)
  set_tests_properties(clients.${name} PROPERTIES LABELS "e2e" TIMEOUT 600)
  if(name STREQUAL "loadgen_timing_test")
    # Timing against a relay: CPU contention from parallel tests delays the threads it times.
    set_tests_properties(clients.${name} PROPERTIES RUN_SERIAL TRUE)
  endif()
endforeach()
