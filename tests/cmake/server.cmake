# Unit tests of the front doors (server/): status mapping, auth, metrics, OpenAI request parsing
# and the streaming adapters, against a fake engine.
if(JUNCTION_SERVER)
  junction_add_test_tree(junction_server_tests server junction_server)
endif()
