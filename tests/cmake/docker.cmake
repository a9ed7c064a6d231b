# Container image, demo stack and deployment manifests (docker/), see docker/README.md.
#
# docker.manifests parses docker/k8s/*.yaml and the compose files and checks them against the
# binary (settings from --help, probe paths, ports, image name). It takes well under a second.
#
# docker.container and docker.compose build images with podman and run them against Ceph RGW.
# They test the image, not the compiler flags of this build directory, so they are registered
# on the normal build only: scripts/test.sh runs ctest a second time on the ASan build
# (HG_SANITIZE=ON), and they must not run twice.
find_program(HG_PYTHON3_DOCKER python3 PATHS /usr/bin NO_DEFAULT_PATH)

add_test(NAME docker.manifests
         COMMAND ${HG_PYTHON3_DOCKER} ${CMAKE_CURRENT_LIST_DIR}/../docker/test_manifests.py
                 $<TARGET_FILE:hlsgate>)
set_tests_properties(docker.manifests PROPERTIES TIMEOUT 120)

if(NOT HG_SANITIZE)
  add_test(NAME docker.container
           COMMAND ${HG_PYTHON3_DOCKER} ${CMAKE_CURRENT_LIST_DIR}/../docker/test_container.py)
  add_test(NAME docker.compose
           COMMAND ${HG_PYTHON3_DOCKER} ${CMAKE_CURRENT_LIST_DIR}/../docker/test_compose.py)
  # one podman storage; an uncached first build pulls packages from the Debian mirror
  set_tests_properties(docker.container docker.compose PROPERTIES TIMEOUT 1800 RESOURCE_LOCK hlsgate_podman)
endif()
