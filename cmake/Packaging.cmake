# Debian packages, the way a district IT office installs and runs tongban (`cpack -G DEB`
# in the build directory, after building; tests/packaging/verify_units.sh checks them):
#
#   tongban-node     /usr/bin/tongban-node, /lib/systemd/system/tongban-node@.service
#   tongban-hub      /usr/bin/tongban-hub,  /lib/systemd/system/tongban-hub.service
#   tongban-tools    /usr/bin/tongban (provision, restore, verify-log, ...) and the sample
#                    district /usr/share/tongban/site-config/*.toml, the template an operator
#                    copies to /etc/tongban/site-config
#   tongban-console  /usr/share/tongban/console, the built web console (Architecture: all)
#
# The console is its own package, shipped once: both daemons serve it, a machine running
# the hub and a node holds one copy, and it is architecture-independent. It is not put in
# tongban-tools, which is the operator's CLI and holds nothing a daemon reads at run time.
# Node and hub depend on the console and the CLI of exactly their own version: the console
# speaks their API, and neither daemon starts before `tongban provision` has run.
#
# Maintainer scripts (tools/ops/debian/<package>/) create the user tongban, /etc/tongban and
# /var/lib/tongban, never start an unconfigured daemon, and never delete data or keys.
include(GNUInstallDirs)

# The units go where Debian 12's packages put theirs (/lib, not /usr/lib: bookworm keeps
# files where dpkg knows them while the /usr merge settles). An absolute destination: CPack's
# DEB generator installs with DESTDIR, so it lands inside the package.
set(TONGBAN_SYSTEMD_UNIT_DIR "/lib/systemd/system" CACHE PATH
    "Where the packages install the systemd units")
set(TONGBAN_PACKAGE_CONTACT "tongban maintainers <tongban@localhost>" CACHE STRING
    "Maintainer field of the Debian packages")

# Every library is a system one (dpkg-shlibdeps lists their packages), so the installed
# binaries carry no RPATH; the build tree's is dropped on install.
set_target_properties(tongban-node tongban-hub tongban PROPERTIES
  INSTALL_RPATH ""
  INSTALL_RPATH_USE_LINK_PATH OFF)

install(TARGETS tongban-node RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT node)
install(FILES ${PROJECT_SOURCE_DIR}/tools/ops/systemd/tongban-node@.service
  DESTINATION ${TONGBAN_SYSTEMD_UNIT_DIR} COMPONENT node)

install(TARGETS tongban-hub RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT hub)
install(FILES ${PROJECT_SOURCE_DIR}/tools/ops/systemd/tongban-hub.service
  DESTINATION ${TONGBAN_SYSTEMD_UNIT_DIR} COMPONENT hub)

install(TARGETS tongban RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT tools)
# The sample district's TOML only: not site-config/keys/, which `tongban provision` fills
# with a developer's public keys when run against the source tree.
file(GLOB tongban_site_config_templates CONFIGURE_DEPENDS
  "${PROJECT_SOURCE_DIR}/site-config/*.toml")
install(FILES ${tongban_site_config_templates}
  DESTINATION ${CMAKE_INSTALL_DATADIR}/tongban/site-config COMPONENT tools)

# The whole built console (its assets and their precompressed copies), from web/.
install(DIRECTORY "${TONGBAN_CONSOLE_DIR}/"
  DESTINATION ${CMAKE_INSTALL_DATADIR}/tongban/console COMPONENT console)

set(CPACK_GENERATOR "DEB")
# Values reach CPackConfig.cmake as written (quotes, $ and backslashes escaped).
set(CPACK_VERBATIM_VARIABLES ON)
set(CPACK_PACKAGE_NAME "tongban")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_VENDOR "tongban")
set(CPACK_PACKAGE_CONTACT "${TONGBAN_PACKAGE_CONTACT}")
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
# Smaller packages; the build tree keeps the symbols for debugging.
set(CPACK_STRIP_FILES ON)

set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL node hub tools console)
set(CPACK_COMPONENTS_GROUPING IGNORE)  # one package per component
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # <name>_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_SECTION "admin")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
set(CPACK_DEBIAN_COMPRESSION_TYPE "xz")
# Library Depends from dpkg-shlibdeps (dpkg-dev), per package.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# Maintainer scripts get 0755, other control files 0644, whatever the checkout's modes.
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
# CPACK_COMPONENT_<C>_DEPENDS become "tongban-<dep> (= <this version>)".
set(CPACK_DEBIAN_ENABLE_COMPONENT_DEPENDS ON)

set(tongban_debian "${PROJECT_SOURCE_DIR}/tools/ops/debian")

set(CPACK_DEBIAN_NODE_PACKAGE_NAME "tongban-node")
set(CPACK_COMPONENT_NODE_DEPENDS console tools)
set(CPACK_DEBIAN_NODE_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_NODE_DESCRIPTION "tongban edge node of one service site (通办站点节点)
The daemon a town/street service center, park station or community agent point runs:
case handling, appointments and the HTTP API and console for window staff, working
offline when it must and replicating its signed events to the district hub.
Run one per site as tongban-node@<site>.service after `tongban provision`.")
set(CPACK_DEBIAN_NODE_PACKAGE_CONTROL_EXTRA
  "${tongban_debian}/tongban-node/postinst"
  "${tongban_debian}/tongban-node/prerm"
  "${tongban_debian}/tongban-node/postrm")

set(CPACK_DEBIAN_HUB_PACKAGE_NAME "tongban-hub")
set(CPACK_COMPONENT_HUB_DEPENDS console tools)
# The monthly supervision report is drawn to PDF with Noto CJK (found via fontconfig).
set(CPACK_DEBIAN_HUB_PACKAGE_DEPENDS "adduser, fonts-noto-cjk")
set(CPACK_DEBIAN_HUB_DESCRIPTION "tongban district hub (区级通办中心)
Receives every site's signed events over ZeroMQ/CURVE, keeps the district's case index,
moves cases between sites, streams catalogs back and serves the operators' API and
console, 电子监察 and monthly reports. Runs as tongban-hub.service after
`tongban provision --hub`.")
set(CPACK_DEBIAN_HUB_PACKAGE_CONTROL_EXTRA
  "${tongban_debian}/tongban-hub/postinst"
  "${tongban_debian}/tongban-hub/prerm"
  "${tongban_debian}/tongban-hub/postrm")

set(CPACK_DEBIAN_TOOLS_PACKAGE_NAME "tongban-tools")
set(CPACK_DEBIAN_TOOLS_DESCRIPTION "tongban command line for operators
The tongban command: provision a site or the hub, restore a site from the hub, verify
logs and licenses, rebuild, bundles, publish catalogs, reports and benchmarks. Ships the
sample district in /usr/share/tongban/site-config as a template for
/etc/tongban/site-config.")

set(CPACK_DEBIAN_CONSOLE_PACKAGE_NAME "tongban-console")
set(CPACK_DEBIAN_CONSOLE_PACKAGE_ARCHITECTURE "all")
set(CPACK_DEBIAN_CONSOLE_DESCRIPTION "tongban web console (工作台)
The built Vue console that tongban-node and tongban-hub serve under /console/,
needing no internet connection.")

include(CPack)
