# The installed layout, the same for `cmake --install` and the Debian package:
#   ${sbindir}/policy-milter, ${sbindir}/policy-review, ${bindir}/policyctl
#   ${PM_SYSCONFDIR}/policy-milter.toml   the configuration, naming the installed rules
#   ${PM_SYSCONFDIR}/local.d/             the school's own rule files (README inside)
#   ${PM_DATADIR}/rules/                  the shipped rules
#   units, sysusers.d, tmpfiles.d         systemd/CMakeLists.txt
#   man pages, docs, Postfix snippets     docs/CMakeLists.txt
#
# The installed configuration is conf/policy-milter.toml with the rules directory made
# absolute (the checkout's "../rules" does not exist under /etc) and, when
# PM_MILTER_SOCKET is set, the milter socket changed (Debian: a unix socket under
# /var/spool/postfix, where chrooted smtpd can reach it).
set(PM_MILTER_SOCKET "" CACHE STRING "milter socket in the installed configuration (empty: as conf/)")

set(_conf_src ${PROJECT_SOURCE_DIR}/conf/policy-milter.toml)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${_conf_src})
file(READ ${_conf_src} _conf)
string(FIND "${_conf}" "\ndir = \"../rules\"" _at)
if(_at LESS 0)
  message(FATAL_ERROR "conf/policy-milter.toml: no 'dir = \"../rules\"' line in [rules] to point at ${PM_DATADIR}/rules")
endif()
string(REPLACE "\ndir = \"../rules\"" "\ndir = \"${PM_DATADIR}/rules\"
# The school's own rule files (README there), read after the shipped ones.
local_dir = \"${PM_SYSCONFDIR}/local.d\"" _conf "${_conf}")
if(PM_MILTER_SOCKET)
  string(REGEX REPLACE "\nsocket = \"[^\"]*\"" "\nsocket = \"${PM_MILTER_SOCKET}\"" _conf "${_conf}")
endif()
file(WRITE ${CMAKE_BINARY_DIR}/installed/policy-milter.toml.new "${_conf}")
# Rewritten only when it changed, so a reconfigure does not retrigger installs.
file(COPY_FILE ${CMAKE_BINARY_DIR}/installed/policy-milter.toml.new
     ${CMAKE_BINARY_DIR}/installed/policy-milter.toml ONLY_IF_DIFFERENT)

# The Postfix snippet names the same socket (smtpd and cleanup are chrooted to the queue
# directory, so the path is given relative to it).
file(READ ${PROJECT_SOURCE_DIR}/conf/postfix/main.cf.snippet _snippet)
if(PM_MILTER_SOCKET MATCHES "^unix:/var/spool/postfix(/.*)$")
  string(REGEX REPLACE "\nsmtpd_milters = [^\n]*" "\nsmtpd_milters = unix:${CMAKE_MATCH_1}" _snippet "${_snippet}")
endif()
file(WRITE ${CMAKE_BINARY_DIR}/installed/main.cf.snippet.new "${_snippet}")
file(COPY_FILE ${CMAKE_BINARY_DIR}/installed/main.cf.snippet.new ${CMAKE_BINARY_DIR}/installed/main.cf.snippet
     ONLY_IF_DIFFERENT)

# An existing configuration is the school's: a second `cmake --install` leaves it alone and
# puts the new default next to it as policy-milter.toml.new (the Debian package gets the
# same from dpkg's conffile handling, as its staging directory starts empty).
set(_conf_built ${CMAKE_BINARY_DIR}/installed/policy-milter.toml)
install(CODE "
  set(_dir \"\$ENV{DESTDIR}${PM_SYSCONFDIR}\")
  file(MAKE_DIRECTORY \"\${_dir}\")
  if(EXISTS \"\${_dir}/policy-milter.toml\")
    file(COPY_FILE \"${_conf_built}\" \"\${_dir}/policy-milter.toml.new\")
    message(STATUS \"Kept: \${_dir}/policy-milter.toml (yours); the new default: policy-milter.toml.new\")
  else()
    file(COPY_FILE \"${_conf_built}\" \"\${_dir}/policy-milter.toml\")
    message(STATUS \"Installing: \${_dir}/policy-milter.toml\")
  endif()")
install(FILES ${PROJECT_SOURCE_DIR}/conf/local.d/README DESTINATION ${PM_SYSCONFDIR}/local.d)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/rules/ DESTINATION ${PM_DATADIR}/rules
        PATTERN README.md EXCLUDE)

add_subdirectory(${PROJECT_SOURCE_DIR}/systemd ${CMAKE_BINARY_DIR}/systemd)
add_subdirectory(${PROJECT_SOURCE_DIR}/docs ${CMAKE_BINARY_DIR}/docs)
