# CDN segment signers (src/sign/segsign.h): a CLI the oracle scripts drive, the oracle tests
# (botocore, @aws-sdk/cloudfront-signer, openssl/cryptography signature checks, Python hmac),
# and the gateway run with each signer against nginx.
# Included from tests/CMakeLists.txt, so HG_WARN and the hgcore target are in scope.

add_executable(segsign_cli ${CMAKE_CURRENT_LIST_DIR}/../tools/segsign_cli.c)
target_compile_options(segsign_cli PRIVATE ${HG_WARN})
target_link_libraries(segsign_cli PRIVATE hgcore)

# Debian's python3-botocore and python3-cryptography live in the system interpreter.
find_program(HG_PYTHON3_CDN python3 PATHS /usr/bin NO_DEFAULT_PATH)
add_test(NAME cdn.cloudfront_oracles
         COMMAND ${HG_PYTHON3_CDN} ${CMAKE_CURRENT_LIST_DIR}/../cdn/test_cloudfront.py $<TARGET_FILE:segsign_cli>)
add_test(NAME cdn.hmac_oracles
         COMMAND ${HG_PYTHON3_CDN} ${CMAKE_CURRENT_LIST_DIR}/../cdn/test_hmac_schemes.py $<TARGET_FILE:segsign_cli>)
set_tests_properties(cdn.cloudfront_oracles cdn.hmac_oracles PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77)
add_test(NAME integration.cdn
         COMMAND ${HG_PYTHON3_CDN} ${CMAKE_CURRENT_LIST_DIR}/../integration/test_cdn.py $<TARGET_FILE:hlsgate>)
set_tests_properties(integration.cdn PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77)
