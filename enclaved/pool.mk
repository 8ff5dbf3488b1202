# CPU and memory pools (enclaved/pool*.c)
