# A man page renders without a single groff warning: groff -ww -man -z PAGE prints nothing.
execute_process(COMMAND ${GROFF} -ww -man -z ${PAGE} RESULT_VARIABLE rc ERROR_VARIABLE err OUTPUT_VARIABLE out)
if(NOT rc EQUAL 0 OR NOT "${err}${out}" STREQUAL "")
  message(FATAL_ERROR "${PAGE}: groff -ww -man -z: exit ${rc}\n${err}${out}")
endif()
