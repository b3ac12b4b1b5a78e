# Writes the ctest entries of one test program, one per GoogleTest suite (cmake -P; see CMakeLists.txt).
# In: EXECUTABLE, PROGRAM (entry name prefix), LABEL, WORKING_DIRECTORY, RESULTS_DIR, OUTPUT, COSTS (the
# seconds of known slow entries, ctest_costs.txt).
execute_process(COMMAND "${EXECUTABLE}" --gtest_list_tests
  WORKING_DIRECTORY "${WORKING_DIRECTORY}" OUTPUT_VARIABLE listing ERROR_VARIABLE errors RESULT_VARIABLE result
  TIMEOUT 120)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "${EXECUTABLE} --gtest_list_tests failed (${result}):\n${listing}${errors}")
endif()
string(REPLACE ";" "\\;" listing "${listing}")
string(REPLACE "\n" ";" lines "${listing}")
set(entries "")
set(suite "")
foreach(line IN LISTS lines)
  # "Suite." (parameterized: "Prefix/Suite." or "Suite/0.  # TypeParam = ..."), then "  Test" lines.
  if(line MATCHES "^([^ #][^ ]*)\\.( +#.*)?$")
    set(suite "${CMAKE_MATCH_1}")
    set(count_${suite} 0)
    list(APPEND entries "${suite}")
  elseif(line MATCHES "^  [^ ]" AND suite)
    math(EXPR count_${suite} "${count_${suite}} + 1")
  endif()
endforeach()
if(NOT entries)
  message(FATAL_ERROR "${EXECUTABLE} lists no tests:\n${listing}")
endif()
file(STRINGS "${COSTS}" cost_lines REGEX "^[^#]")
foreach(line IN LISTS cost_lines)
  if(line MATCHES "^([^ ]+) ([0-9]+)$")
    set(seconds_${CMAKE_MATCH_1} ${CMAKE_MATCH_2})
  endif()
endforeach()
set(content "")
foreach(suite IN LISTS entries)
  set(name "${PROGRAM}.${suite}")
  if(DEFINED seconds_${name})
    set(cost ${seconds_${name}})
  else()
    math(EXPR whole "${count_${suite}} / 10")
    math(EXPR tenths "${count_${suite}} % 10")
    set(cost "${whole}.${tenths}")
  endif()
  string(APPEND content
    "add_test([==[${name}]==] [==[${EXECUTABLE}]==] [==[--gtest_filter=${suite}.*]==] "
    "[==[--gtest_output=xml:${RESULTS_DIR}/${name}.xml]==])\n"
    # ctest starts costlier entries first, by these estimates until it has timings of its own.
    "set_tests_properties([==[${name}]==] PROPERTIES WORKING_DIRECTORY [==[${WORKING_DIRECTORY}]==] "
    "LABELS [==[${LABEL}]==] COST ${cost})\n")
endforeach()
file(WRITE "${OUTPUT}" "${content}")
