/* main.c: the process entry point; everything else lives in the agent library. */
#include "agent/agent.h"

int main(int argc, char **argv)
{
	return agent_main(argc, argv);
}
