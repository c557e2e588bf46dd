"""conan 2 recipe for developing childproc: builds this source tree (`conan create .`; test_package/
checks the result). recipes/childproc/all/ is the same recipe in conan-center form, building a pinned
release archive (conandata.yml + source()); the two differ only in where the sources come from
(exports_sources + VERSION here, conandata.yml + source() there, and so the layout's source folder)."""
from conan import ConanFile
from conan.errors import ConanInvalidConfiguration
from conan.tools.cmake import CMake, CMakeToolchain, cmake_layout
from conan.tools.files import copy, load, rmdir
import os

required_conan_version = ">=2.0.9"


class ChildprocConan(ConanFile):
    name = "childproc"
    description = ("Node.js child_process for C: spawn, exec, execFile, fork with a message "
                   "channel, and their sync forms, on Linux and Windows")
    license = "MIT"
    url = "https://github.com/childproc/childproc"
    homepage = "https://github.com/childproc/childproc"
    topics = ("process", "subprocess", "spawn", "ipc", "child_process")
    package_type = "library"
    languages = "C"
    settings = "os", "arch", "compiler", "build_type"
    options = {"shared": [True, False], "fPIC": [True, False]}
    default_options = {"shared": False, "fPIC": True}
    exports_sources = ("CMakeLists.txt", "VERSION", "LICENSE", "cmake/*", "include/*", "src/*")

    def set_version(self):
        self.version = self.version or load(self, os.path.join(self.recipe_folder, "VERSION")).strip()

    def layout(self):
        cmake_layout(self)

    def config_options(self):
        if self.settings.os == "Windows":
            del self.options.fPIC

    def configure(self):
        if self.options.shared:
            self.options.rm_safe("fPIC")

    def validate(self):
        # The backends: src/posix (Linux: clone/pidfd/epoll) and src/win32.
        if self.settings.os not in ("Linux", "Windows"):
            raise ConanInvalidConfiguration(f"{self.ref} has no backend for {self.settings.os} yet "
                                            "(Linux and Windows only)")

    def build_requirements(self):
        self.tool_requires("cmake/[>=3.15 <4]")

    def generate(self):
        tc = CMakeToolchain(self)
        for part in ("TESTS", "EXAMPLES", "TOOLS"):
            tc.cache_variables["CHILDPROC_BUILD_" + part] = False
        tc.generate()

    def build(self):
        cmake = CMake(self)
        cmake.configure()
        cmake.build()

    def package(self):
        copy(self, "LICENSE", self.source_folder, os.path.join(self.package_folder, "licenses"))
        CMake(self).install()
        # conan generates its own CMake and pkg-config files from package_info().
        rmdir(self, os.path.join(self.package_folder, "lib", "cmake"))
        rmdir(self, os.path.join(self.package_folder, "lib", "pkgconfig"))

    def package_info(self):
        self.cpp_info.set_property("cmake_file_name", "childproc")
        self.cpp_info.set_property("cmake_target_name", "childproc::childproc")
        self.cpp_info.set_property("pkg_config_name", "childproc")
        self.cpp_info.libs = ["childproc"]
        if not self.options.shared:
            self.cpp_info.defines = ["CHILDPROC_STATIC"]
        if self.settings.os == "Linux":
            self.cpp_info.system_libs = ["pthread"]
