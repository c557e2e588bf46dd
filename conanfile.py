"""conan 2 recipe for childproc: `conan create . --build=missing` (test_package/ checks the result)."""
from conan import ConanFile
from conan.tools.cmake import CMake, CMakeToolchain, cmake_layout
from conan.tools.files import copy, load
import os
import re


class ChildprocConan(ConanFile):
    name = "childproc"
    license = "MIT"
    description = ("Node.js child_process for C: spawn, exec, execFile, fork with a message "
                   "channel, and their sync forms, on Linux and Windows")
    topics = ("process", "subprocess", "spawn", "ipc", "child_process")
    settings = "os", "arch", "compiler", "build_type"
    options = {"shared": [True, False], "fPIC": [True, False]}
    default_options = {"shared": False, "fPIC": True}
    exports_sources = ("CMakeLists.txt", "VERSION", "LICENSE", "cmake/*", "include/*", "src/*")

    def set_version(self):
        self.version = load(self, os.path.join(self.recipe_folder, "VERSION")).strip()

    def config_options(self):
        if self.settings.os == "Windows":
            del self.options.fPIC

    def configure(self):
        self.settings.rm_safe("compiler.cppstd")
        self.settings.rm_safe("compiler.libcxx")

    def layout(self):
        cmake_layout(self)

    def generate(self):
        tc = CMakeToolchain(self)
        for opt in ("TESTS", "EXAMPLES", "TOOLS"):
            tc.variables["CHILDPROC_BUILD_" + opt] = False
        tc.generate()

    def build(self):
        cmake = CMake(self)
        cmake.configure()
        cmake.build()

    def package(self):
        copy(self, "LICENSE", self.source_folder, os.path.join(self.package_folder, "licenses"))
        CMake(self).install()

    def package_info(self):
        self.cpp_info.set_property("cmake_file_name", "childproc")
        self.cpp_info.set_property("cmake_target_name", "childproc::childproc")
        self.cpp_info.set_property("pkg_config_name", "childproc")
        self.cpp_info.libs = ["childproc"]
        if not self.options.shared:
            self.cpp_info.defines = ["CHILDPROC_STATIC"]
        if self.settings.os == "Linux":
            self.cpp_info.system_libs = ["pthread"]
