/*
 * wake.c: interrupting the broker's epoll_wait with a real-time signal
 * (see wake.h for why).
 */
#include "wake.h"

#include <pthread.h>
#include <signal.h>
#include <string.h>

/* SIGRTMIN + 7: clear of glibc's own real-time signals and of mosquitto's
 * SIGHUP/SIGUSR1/SIGUSR2 handling. */
#define WAKE_SIGNAL_OFFSET 7

static pthread_t broker_thread;
static struct sigaction previous_action;

static void on_wake_signal(int signum)
{
	(void)signum;   /* the interruption itself is the point */
}

int fyn_wake_init(void)
{
	struct sigaction action;

	memset(&action, 0, sizeof(action));
	action.sa_handler = on_wake_signal;
	action.sa_flags = SA_RESTART;   /* restart everything but epoll_wait, which never restarts */
	sigemptyset(&action.sa_mask);
	broker_thread = pthread_self();
	return sigaction(SIGRTMIN + WAKE_SIGNAL_OFFSET, &action, &previous_action);
}

void fyn_wake_broker(void)
{
	pthread_kill(broker_thread, SIGRTMIN + WAKE_SIGNAL_OFFSET);
}

void fyn_wake_cleanup(void)
{
	sigaction(SIGRTMIN + WAKE_SIGNAL_OFFSET, &previous_action, NULL);
}
