# End-to-end tests: the real junction-server on loopback with the fixture model
# (tests/golden/llama/model + tests/data/e2e_model_tokenizer), driven by clients no one here
# wrote: the openai npm SDK, Debian's python3-grpcio and curl. Each test starts its own server
# on free ports, waits for /health, runs and kills it; each is bounded in time.
if(NOT JUNCTION_SERVER)
  return()
endif()

set(junction_e2e_python /usr/bin/python3)
set(junction_e2e_dir ${CMAKE_CURRENT_SOURCE_DIR}/e2e)
set(junction_e2e_tests
  openai_sdk_test grpc_test sse_framing_test bad_inputs_test concurrency_test robustness_test)
foreach(name IN LISTS junction_e2e_tests)
  add_test(NAME e2e_${name}
    COMMAND ${junction_e2e_python} ${junction_e2e_dir}/${name}.py
            --server $<TARGET_FILE:junction-server>
            --cli $<TARGET_FILE:junction-cli>
            --descriptor-set ${JUNCTION_PROTO_DESCRIPTOR_SET}
            --docs ${PROJECT_SOURCE_DIR}/docs/api.md
    WORKING_DIRECTORY ${junction_e2e_dir})
  set_tests_properties(e2e_${name} PROPERTIES LABELS "e2e" TIMEOUT 300
    ENVIRONMENT PYTHONDONTWRITEBYTECODE=1)
endforeach()
