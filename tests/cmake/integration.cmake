# Integration tests: the real binary against a real nginx origin on loopback.
find_program(HG_PYTHON3 python3 PATHS /usr/bin NO_DEFAULT_PATH)
add_test(NAME integration.gateway
         COMMAND ${HG_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_gateway.py $<TARGET_FILE:hlsgate>)
set_tests_properties(integration.gateway PROPERTIES TIMEOUT 600)
add_test(NAME integration.cache
         COMMAND ${HG_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_cache.py $<TARGET_FILE:hlsgate>)
set_tests_properties(integration.cache PROPERTIES TIMEOUT 600)
add_test(NAME integration.hardening
         COMMAND ${HG_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_hardening.py $<TARGET_FILE:hlsgate>)
set_tests_properties(integration.hardening PROPERTIES TIMEOUT 600)
add_test(NAME integration.tokens
         COMMAND ${HG_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_tokens.py $<TARGET_FILE:hlsgate>)
set_tests_properties(integration.tokens PROPERTIES TIMEOUT 300)
add_test(NAME integration.regressions
         COMMAND ${HG_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_regressions.py $<TARGET_FILE:hlsgate>)
set_tests_properties(integration.regressions PROPERTIES TIMEOUT 600)
