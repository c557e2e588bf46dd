# common.cmake - what the consumer scripts (run.cmake, packaging.cmake) share.

# run(COMMAND...): runs a command; a non-zero exit stops the script with the command's output.
# The output is left in last_output.
function(run)
  execute_process(COMMAND ${ARGV} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGV}\n${out}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
endfunction()
