# Configure summary: every dependency found (✓) or skipped (✗), printed once at the end so a
# newcomer sees at a glance what the build will contain. Kept in a global property, not the cache:
# a multi-line cache value left by a failed configure corrupts CMakeCache.txt.
function(flare_report name version)
  set_property(GLOBAL APPEND_STRING PROPERTY FLARE_SUMMARY "\n  ✓ ${name} ${version}")
endfunction()

function(flare_report_missing name why)
  set_property(GLOBAL APPEND_STRING PROPERTY FLARE_SUMMARY "\n  ✗ ${name}: ${why}")
endfunction()

function(flare_print_summary)
  get_property(summary GLOBAL PROPERTY FLARE_SUMMARY)
  message(STATUS "flare-surrogate ${PROJECT_VERSION} configuration (${CMAKE_BUILD_TYPE}):${summary}")
endfunction()
