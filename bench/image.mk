# bench programs of the image module
