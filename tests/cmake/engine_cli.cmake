# junction-cli --batch: a JSONL file of token-id prompts through the engine on the llama fixture.
if(TARGET junction-cli)
  add_test(NAME engine_cli_batch
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/engine/runtime/cli_batch_test.sh
            $<TARGET_FILE:junction-cli> ${CMAKE_CURRENT_SOURCE_DIR}/golden/llama/model)
  set_tests_properties(engine_cli_batch PROPERTIES TIMEOUT 300)
endif()
