#include "config.h"

#include "enclaved/enclaved.h"
#include "enclaved/git-describe.h"

const char enclaved_git_describe[] = ENCLAVED_GIT_DESCRIBE;
