# CDN segment signers (src/sign/segsign.h): a CLI the oracle scripts drive, the oracle tests
# (botocore, @aws-sdk/cloudfront-signer, openssl/cryptography signature checks, Python hmac),
# and the gateway run with each signer against nginx.
# Included from tests/CMakeLists.txt, so HG_WARN and the hgcore target are in scope.

add_executable(segsign_cli ${CMAKE_CURRENT_LIST_DIR}/../tools/segsign_cli.c)
target_compile_options(segsign_cli PRIVATE ${HG_WARN})
target_link_libraries(segsign_cli PRIVATE hgcore)
