/* pins.c: placeholder until the pins table lands. */
#include "images/images.h"
