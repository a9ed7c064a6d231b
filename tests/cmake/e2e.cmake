# End-to-end tests: a real S3 (Ceph RGW on loopback) and real players (hls.js in Chromium, ffmpeg).
find_program(HG_PYTHON3_E2E python3 PATHS /usr/bin NO_DEFAULT_PATH)
add_test(NAME e2e.rgw_players
         COMMAND ${HG_PYTHON3_E2E} ${CMAKE_CURRENT_SOURCE_DIR}/e2e/test_e2e.py $<TARGET_FILE:hlsgate>)
# The fast SHA-256 path forced here (it falls back to generic with a warning on a CPU without
# SHA-NI); e2e.rgw_players.generic forces mbedTLS: RGW must accept what both sign.
set_tests_properties(e2e.rgw_players PROPERTIES TIMEOUT 900 ENVIRONMENT "HG_SHA256=shani-x4")
if(NOT HG_SANITIZE)
  add_test(NAME e2e.rgw_players.generic
           COMMAND ${HG_PYTHON3_E2E} ${CMAKE_CURRENT_SOURCE_DIR}/e2e/test_e2e.py $<TARGET_FILE:hlsgate>)
  set_tests_properties(e2e.rgw_players.generic PROPERTIES TIMEOUT 900 ENVIRONMENT "HG_SHA256=generic")
endif()
add_test(NAME e2e.rgw_smoke COMMAND ${HG_PYTHON3_E2E} ${CMAKE_CURRENT_SOURCE_DIR}/e2e/rgw_smoke.py)
set_tests_properties(e2e.rgw_smoke PROPERTIES TIMEOUT 300)
# scripts/demo.sh with its ports taken (before and after its children start): the message, the
# exit status, and nothing left running or on disk.
add_test(NAME e2e.demo_ports
         COMMAND ${HG_PYTHON3_E2E} ${CMAKE_CURRENT_SOURCE_DIR}/e2e/test_demo.py $<TARGET_FILE:hlsgate>)
set_tests_properties(e2e.demo_ports PROPERTIES TIMEOUT 600)
# Behind a CDN: hlsgate with SEGMENT_SIGNER=akamai, nginx + njs as the CDN stand-in checking the
# EdgeAuth token with its own HMAC in front of RGW, hls.js playing through it (about 15 s).
add_test(NAME e2e.cdn_akamai
         COMMAND ${HG_PYTHON3_E2E} ${CMAKE_CURRENT_SOURCE_DIR}/e2e/test_cdn_e2e.py $<TARGET_FILE:hlsgate>)
set_tests_properties(e2e.cdn_akamai PROPERTIES TIMEOUT 600 SKIP_RETURN_CODE 77)
