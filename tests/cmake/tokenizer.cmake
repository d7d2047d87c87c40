# Tokenizer and chat-template suites beyond the Catch2 unit tests in tests/engine/tokenizer:
# the oracle comparison against transformers.js (@lenml/tokenizers) and @huggingface/jinja on
# five real tokenizers, and the encode-throughput benchmark. Node packages come from
# tests/package.json (scripts/setup installs them).

add_executable(junction-tokenizer-tool
  ${CMAKE_CURRENT_SOURCE_DIR}/tokenizer/tokenizer_tool.cc
  ${PROJECT_SOURCE_DIR}/clients/cli/tokenize_command.cc)
target_link_libraries(junction-tokenizer-tool PRIVATE junction_tokenizer)

add_executable(junction-tokenizer-bench ${CMAKE_CURRENT_SOURCE_DIR}/tokenizer/encode_throughput.cc)
target_link_libraries(junction-tokenizer-bench PRIVATE junction_tokenizer)

find_program(JUNCTION_NODE node)
if(JUNCTION_NODE)
  # Ids, decodes and chat templates identical to the oracle for all five tokenizers.
  add_test(NAME tokenizer_oracle_comparison
    COMMAND ${JUNCTION_NODE} ${CMAKE_CURRENT_SOURCE_DIR}/tokenizer/compare.mjs
            $<TARGET_FILE:junction-tokenizer-tool>)
  set_tests_properties(tokenizer_oracle_comparison PROPERTIES TIMEOUT 600 LABELS "tokenizer;oracle")
  # junction-cli's --tokenize / --detokenize code path on a real tokenizer.
  add_test(NAME tokenizer_cli_roundtrip
    COMMAND ${JUNCTION_NODE} ${CMAKE_CURRENT_SOURCE_DIR}/tokenizer/cli_roundtrip.mjs
            $<TARGET_FILE:junction-tokenizer-tool>)
  set_tests_properties(tokenizer_cli_roundtrip PROPERTIES TIMEOUT 300 LABELS "tokenizer")
else()
  message(WARNING "node not found: the tokenizer oracle comparison is not registered")
endif()
