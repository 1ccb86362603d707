# Installed by learnhpc.cluster.jupyterhub: settings of every notebook server started
# from this environment.
c = get_config()  # noqa: F821

# Terminals are login shells, so that they have what an SSH session has (profile.d:
# modules, the EESSI software stack).
c.ServerApp.terminado_settings = {"shell_command": ["/bin/bash", "-l"]}
