# junction-server refuses a model it cannot load with exit code 1, promptly (no hang).
if(TARGET junction-server)
  add_test(NAME server.bad_model_exits
    COMMAND bash -c "out=$(timeout 30 $<TARGET_FILE:junction-server> --model /nonexistent/model --http-port 0 --grpc-port 0 2>&1); rc=$?; echo \"$out\"; [[ $rc == 1 ]] && grep -q 'junction-server: error' <<< \"$out\"")
  set_tests_properties(server.bad_model_exits PROPERTIES TIMEOUT 60)
endif()
