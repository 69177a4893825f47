/*
 * room_check.c — the program each room is linked into, whole and alone
 * (CMakeLists.txt, mb_check_<room>): it calls nothing; the link itself is the
 * check that the room uses no room it may not.
 */
int main(void)
{
    return 0;
}
