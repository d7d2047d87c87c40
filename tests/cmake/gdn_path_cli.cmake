# junction-cli end to end on the fla PaTH (with / without forget gate) and fla Gated DeltaNet
# fixtures: greedy generation from --ids as JSON (ids must equal the fixture's greedy ids, the
# plan must name the CPU backend), and --dump-logits (a [T, vocab] safetensors file).
#
# This file is both the ctest registration (included by tests/CMakeLists.txt) and, run with
# `cmake -P` in script mode, the check itself.
if(NOT CMAKE_SCRIPT_MODE_FILE)
  if(TARGET junction-cli)
    foreach(fixture_case fla_path_fox fla_path_nogate fla_gdn)
      if(fixture_case STREQUAL "fla_gdn")
        set(expected_backend "gated_deltanet=cpu.gated_deltanet")
      else()
        set(expected_backend "path=cpu.path")
      endif()
      add_test(NAME cli_${fixture_case}
        COMMAND ${CMAKE_COMMAND}
          -DCLI=$<TARGET_FILE:junction-cli>
          -DFIXTURE=${CMAKE_CURRENT_SOURCE_DIR}/golden/${fixture_case}
          -DBACKEND=${expected_backend}
          -DOUT_DIR=${CMAKE_CURRENT_BINARY_DIR}/cli_${fixture_case}
          -P ${CMAKE_CURRENT_LIST_FILE})
      set_tests_properties(cli_${fixture_case} PROPERTIES TIMEOUT 300 LABELS e2e)
    endforeach()
  endif()
  return()
endif()

# ---- script mode: CLI, FIXTURE, BACKEND, OUT_DIR ----
cmake_policy(VERSION 3.25)
file(READ "${FIXTURE}/golden.json" golden)
string(JSON prompt_json GET "${golden}" prompts 1)
string(JSON greedy_json GET "${golden}" greedy 1)
string(JSON num_prompt LENGTH "${prompt_json}")
string(JSON num_greedy LENGTH "${greedy_json}")
set(prompt "")
math(EXPR last "${num_prompt} - 1")
foreach(i RANGE ${last})
  string(JSON id GET "${prompt_json}" ${i})
  list(APPEND prompt ${id})
endforeach()
list(JOIN prompt "," prompt_ids)

execute_process(
  COMMAND "${CLI}" --model "${FIXTURE}/model" --ids "${prompt_ids}" --max-tokens ${num_greedy}
          --temperature 0 --ignore-eos --format json --threads 1 --device cpu
  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "junction-cli failed (${rc}): ${err}")
endif()
string(JSON ids_json GET "${out}" ids)
string(JSON same EQUAL "${ids_json}" "${greedy_json}")
if(NOT same)
  message(FATAL_ERROR "greedy ids ${ids_json} differ from the fixture's ${greedy_json}")
endif()
string(REPLACE "=" ";" backend_pair "${BACKEND}")
list(GET backend_pair 0 kind)
list(GET backend_pair 1 backend)
string(JSON chosen GET "${out}" backends ${kind})
if(NOT chosen STREQUAL backend)
  message(FATAL_ERROR "expected ${kind} on ${backend}, the plan says '${chosen}': ${out}")
endif()

file(MAKE_DIRECTORY "${OUT_DIR}")
set(dump "${OUT_DIR}/logits.safetensors")
file(REMOVE "${dump}")
execute_process(
  COMMAND "${CLI}" --model "${FIXTURE}/model" --ids "${prompt_ids}" --dump-logits "${dump}"
          --prefill-chunk 3 --threads 1 --device cpu
  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR NOT EXISTS "${dump}")
  message(FATAL_ERROR "junction-cli --dump-logits failed (${rc}): ${err}")
endif()
file(SIZE "${dump}" dump_bytes)
file(READ "${FIXTURE}/model/config.json" config)
string(JSON vocab GET "${config}" vocab_size)
math(EXPR min_bytes "${num_prompt} * ${vocab} * 4")
if(dump_bytes LESS min_bytes)
  message(FATAL_ERROR "${dump} holds ${dump_bytes} bytes, fewer than [${num_prompt}, ${vocab}] floats")
endif()
file(READ "${dump}" header LIMIT 200 OFFSET 8)
string(FIND "${header}" "[${num_prompt},${vocab}]" shape_at)
if(shape_at EQUAL -1)
  message(FATAL_ERROR "${dump} header does not give shape [${num_prompt},${vocab}]: ${header}")
endif()
message(STATUS "junction-cli ${FIXTURE}: ${num_greedy} greedy ids match, logits dumped")
