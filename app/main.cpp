// engram-desktop: the GUI. Application builds and runs everything.
#include "src/application.h"

int main(int argc, char** argv) { return eg::app::Application(argc, argv).run(); }
