# SigV4 presigner: CLI used by the botocore cross-check, the cross-check itself, and a benchmark.
# Included from tests/CMakeLists.txt, so HG_WARN and the hgcore target are in scope.

add_executable(presign_cli ${CMAKE_CURRENT_LIST_DIR}/../tools/presign_cli.c)
target_compile_options(presign_cli PRIVATE ${HG_WARN})
target_link_libraries(presign_cli PRIVATE hgcore)

# SHA-256 implementations (src/sign/sha256.h). Each one is tested on its own below; a test of an
# implementation this CPU cannot run exits 77 and is reported as skipped, never as passed.
set(HG_SHA256_IMPLS generic shani shani-x2 shani-x4 avx512)
set_tests_properties(unit.test_sha256 unit.test_sigv4 PROPERTIES SKIP_RETURN_CODE 77)

# Debian's python3-botocore lives in the system interpreter; a pyenv python3 on PATH lacks it.
set(HG_SYSTEM_PYTHON /usr/bin/python3 CACHE FILEPATH "Python interpreter that has botocore")
add_test(NAME sigv4.botocore
         COMMAND ${HG_SYSTEM_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/../sigv4_botocore.py
                 $<TARGET_FILE:presign_cli>)
foreach(impl ${HG_SHA256_IMPLS})
  add_test(NAME sha256.${impl} COMMAND test_sha256 ${impl})
  add_test(NAME sigv4.unit.${impl} COMMAND test_sigv4 ${impl})
  add_test(NAME sigv4.botocore.${impl}
           COMMAND ${HG_SYSTEM_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/../sigv4_botocore.py
                   $<TARGET_FILE:presign_cli>)
  set_tests_properties(sha256.${impl} sigv4.unit.${impl} sigv4.botocore.${impl} PROPERTIES
                       SKIP_RETURN_CODE 77 ENVIRONMENT "HG_SHA256=${impl}")
endforeach()

# aarch64: the ARMv8 SHA-256 path and the signer, cross-compiled and run under qemu-user.
add_test(NAME sha256.arm64.qemu
         COMMAND ${CMAKE_CURRENT_LIST_DIR}/../tools/arm64_qemu.sh ${CMAKE_CURRENT_BINARY_DIR}/arm64)
set_tests_properties(sha256.arm64.qemu PROPERTIES SKIP_RETURN_CODE 77)

# Throughput benchmark (not a test): build/tests/sign_bench [iterations] [runs]
add_executable(sign_bench ${CMAKE_CURRENT_LIST_DIR}/../../bench/sign_bench.c)
target_compile_options(sign_bench PRIVATE ${HG_WARN})
target_link_libraries(sign_bench PRIVATE hgcore)
