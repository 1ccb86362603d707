-- STAND-IN module of the EESSI stand-in tree (molecule/cvmfs/prepare.yml).
help([[hello 1.0: prints a greeting (a stand-in module of the learnhpc.cluster tests)]])
whatis("Name: hello")
whatis("Version: 1.0")
prepend_path("PATH", "/cvmfs/software.eessi.io/versions/2023.06/software/linux/x86_64/generic/software/hello/1.0/bin")
