# junction-cli end to end (golden ids, logits dump, bad input).
find_package(Python3 REQUIRED COMPONENTS Interpreter)
add_test(NAME cli.end_to_end
  COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/clients/cli_test.py
          $<TARGET_FILE:junction-cli> ${CMAKE_CURRENT_SOURCE_DIR} ${CMAKE_CURRENT_BINARY_DIR}/cli_test)
set_tests_properties(cli.end_to_end PROPERTIES TIMEOUT 600)
add_test(NAME cli.bundled_models
  COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/clients/bundled_models_test.py
          $<TARGET_FILE:junction-cli> ${PROJECT_SOURCE_DIR} ${CMAKE_CURRENT_BINARY_DIR}/bundled_models)
set_tests_properties(cli.bundled_models PROPERTIES TIMEOUT 600 ENVIRONMENT OMP_WAIT_POLICY=PASSIVE)
