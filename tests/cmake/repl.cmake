# junction-cli --chat through a pseudo-terminal (python3's pty module): two turns, /reset,
# Ctrl-C during an answer and at the prompt; with JUNCTION_SERVER also --server over gRPC.
if(JUNCTION_SERVER)
  set(junction_repl_server $<TARGET_FILE:junction-server>)
endif()
add_test(NAME clients.repl_test
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/clients/repl_test.py
          $<TARGET_FILE:junction-cli> ${junction_repl_server}
  WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/clients)
set_tests_properties(clients.repl_test PROPERTIES LABELS "e2e" TIMEOUT 600)
