from django.conf import settings


def public_rate(group, request) -> str:
    return settings.PUBLIC_RATE


def login_rate(group, request) -> str:
    return settings.LOGIN_RATE
