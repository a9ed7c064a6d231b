# Production storage: HTTPS origins, platform credentials, clock skew (tests/integration/test_storage.py).
find_program(HG_PYTHON3 python3 PATHS /usr/bin NO_DEFAULT_PATH)
foreach(group tls creds clock manifests)
  add_test(NAME integration.storage_${group}
           COMMAND ${HG_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_storage.py $<TARGET_FILE:hlsgate> ${group})
  set_tests_properties(integration.storage_${group} PROPERTIES TIMEOUT 600 SKIP_RETURN_CODE 77)
endforeach()
# Temporary credentials from a real STS (Ceph RGW AssumeRole) checked by a real S3 (RGW).
add_test(NAME integration.storage_rgw
         COMMAND ${HG_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_storage_rgw.py $<TARGET_FILE:hlsgate>)
set_tests_properties(integration.storage_rgw PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77)
