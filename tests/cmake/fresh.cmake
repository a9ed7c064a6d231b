# fresh.debian12: the README's set-up, the build and the end-to-end player test in a podman
# container from the locally built Debian base, on a clean clone of HEAD (tests/fresh/test_fresh.sh).
# It tests a fresh machine, not this build directory's compiler flags, so it is registered on the
# normal build only, like docker.container. It shares the podman storage with the docker tests.
if(NOT HG_SANITIZE)
  add_test(NAME fresh.debian12 COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/../fresh/test_fresh.sh)
  set_tests_properties(fresh.debian12 PROPERTIES TIMEOUT 2400 SKIP_RETURN_CODE 77
                       RESOURCE_LOCK hlsgate_podman)
endif()
