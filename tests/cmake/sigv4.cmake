# SigV4 presigner: CLI used by the botocore cross-check, the cross-check itself, and a benchmark.
# Included from tests/CMakeLists.txt, so HG_WARN and the hgcore target are in scope.

add_executable(presign_cli ${CMAKE_CURRENT_LIST_DIR}/../tools/presign_cli.c)
target_compile_options(presign_cli PRIVATE ${HG_WARN})
target_link_libraries(presign_cli PRIVATE hgcore)

# Debian's python3-botocore lives in the system interpreter; a pyenv python3 on PATH lacks it.
set(HG_SYSTEM_PYTHON /usr/bin/python3 CACHE FILEPATH "Python interpreter that has botocore")
add_test(NAME sigv4.botocore
         COMMAND ${HG_SYSTEM_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/../sigv4_botocore.py
                 $<TARGET_FILE:presign_cli>)

# Throughput benchmark (not a test): build/sign_bench [iterations]
add_executable(sign_bench ${CMAKE_CURRENT_LIST_DIR}/../../bench/sign_bench.c)
target_compile_options(sign_bench PRIVATE ${HG_WARN})
target_link_libraries(sign_bench PRIVATE hgcore)
