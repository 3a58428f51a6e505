# Configure summary: every dependency found (✓) or skipped (✗), printed once at the end so a
# newcomer sees at a glance what the build will contain.
set(FLARE_SUMMARY "" CACHE INTERNAL "")

function(flare_report name version)
  set(FLARE_SUMMARY "${FLARE_SUMMARY}\n  ✓ ${name} ${version}" CACHE INTERNAL "")
endfunction()

function(flare_report_missing name why)
  set(FLARE_SUMMARY "${FLARE_SUMMARY}\n  ✗ ${name}: ${why}" CACHE INTERNAL "")
endfunction()

function(flare_print_summary)
  message(STATUS "flare-surrogate ${PROJECT_VERSION} configuration (${CMAKE_BUILD_TYPE}):${FLARE_SUMMARY}")
  set(FLARE_SUMMARY "" CACHE INTERNAL "")
endfunction()
