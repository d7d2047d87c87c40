# Soak test (tests/soak/soak.py): junction-server on the fixture model for 60 s under mixed
# HTTP + gRPC load with faults (resets mid-stream, cancels, expired deadlines, malformed bodies,
# bursts past the queue, SIGTERM drain). Longer runs: soak.py --duration S (docs/reliability.md).
# Under JUNCTION_SANITIZE the RSS-flatness check is off: ASan's quarantine grows RSS by design.
if(NOT JUNCTION_SERVER OR NOT TARGET junction-server OR NOT TARGET junction-cli)
  return()
endif()

set(junction_soak_args --duration 60)
if(JUNCTION_SANITIZE)
  list(APPEND junction_soak_args --rss-tolerance -1)
endif()
add_test(NAME soak.short
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/soak/soak.py
          --server $<TARGET_FILE:junction-server> --cli $<TARGET_FILE:junction-cli>
          --descriptor-set ${JUNCTION_PROTO_DESCRIPTOR_SET} ${junction_soak_args}
          --report ${CMAKE_CURRENT_BINARY_DIR}/soak_report.json)
set_tests_properties(soak.short PROPERTIES LABELS "soak;e2e" TIMEOUT 600
  ENVIRONMENT PYTHONDONTWRITEBYTECODE=1)
