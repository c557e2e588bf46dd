"""conan 2 test_package: builds and runs a program against the packaged childproc, and checks that
a static package's header defines CHILDPROC_STATIC itself."""
from conan import ConanFile
from conan.errors import ConanException
from conan.tools.build import can_run
from conan.tools.cmake import CMake, cmake_layout
from conan.tools.files import copy, load
import os


class ChildprocTestConan(ConanFile):
    settings = "os", "arch", "compiler", "build_type"
    generators = "CMakeDeps", "CMakeToolchain"

    def requirements(self):
        self.requires(self.tested_reference_str)

    def layout(self):
        cmake_layout(self)

    def generate(self):
        # A Windows program finds its DLLs beside itself (also under Wine, which ignores conanrun's PATH).
        dep = self.dependencies[self.tested_reference_str.split("/")[0]]
        if self.settings.os == "Windows" and dep.options.shared:
            for bindir in dep.cpp_info.bindirs:
                copy(self, "*.dll", bindir, os.path.join(self.build_folder, self.cpp.build.bindir))

    def build(self):
        cmake = CMake(self)
        cmake.configure()
        cmake.build()

    def test(self):
        dep = self.dependencies["childproc"]
        if not dep.options.shared:
            header = load(self, os.path.join(dep.package_folder, "include", "childproc.h"))
            if "#define CHILDPROC_STATIC" not in header:
                raise ConanException("the static package's childproc.h does not define CHILDPROC_STATIC")
        if can_run(self):
            # user.childproc:run_prefix: how to run the build's programs on this machine ("wine" for
            # a mingw cross profile on Linux; docs/packaging.md).
            prefix = self.conf.get("user.childproc:run_prefix", default="")
            program = os.path.join(self.cpp.build.bindir, "test_package")
            if self.settings.os == "Windows":
                program += ".exe"
            # Through a prefix the program runs in another OS's environment (Wine: the DLLs beside
            # it), not in conanrun's, which is a .bat for a Windows host.
            self.run(f"{prefix} {program}" if prefix else program, env="" if prefix else "conanrun")
