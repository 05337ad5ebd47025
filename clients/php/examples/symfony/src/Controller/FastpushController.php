<?php

namespace App\Controller;

use Fastpush\FastpushException;
use Fastpush\Symfony\FastpushService;
use Symfony\Component\HttpFoundation\JsonResponse;
use Symfony\Component\HttpFoundation\Request;

/**
 * Two routes (config/routes.yaml in docs/php.md), without Messenger:
 *
 *     GET  /fastpush/token    a token for the logged-in user's channel
 *                             user.{id} and "news", for fastpush.js
 *     POST /notify            {"user": ID, "text": ...}: publish to user.ID
 *
 * The user here is the one the web server or a firewall with HTTP basic
 * authenticated ($request->getUser()); with SecurityBundle, extend
 * AbstractController and use $this->getUser()->getUserIdentifier().
 */
class FastpushController
{
    private $fastpush;

    public function __construct(FastpushService $fastpush)
    {
        $this->fastpush = $fastpush;
    }

    public function token(Request $request)
    {
        $user = $request->getUser();
        if ($user === null || $user === '')
            return new JsonResponse(['error' => 'unauthorized'], 401);
        return new JsonResponse([
            'token' => $this->fastpush->token($user, ['user.{sub}', 'news']),
            'expires_in' => $this->fastpush->tokenTtl(),
        ]);
    }

    public function notify(Request $request)
    {
        $body = json_decode($request->getContent(), true);
        if (!is_array($body) || !isset($body['user'], $body['text']))
            return new JsonResponse(['error' => 'bad_request'], 400);
        try {
            $id = $this->fastpush->publish('user.' . $body['user'],
                                           ['text' => (string) $body['text']],
                                           'notification');
        } catch (FastpushException $e) {
            $status = $e->getStatus() ?: ($e->getErrorCode() === 'invalid_event' ? 400 : 503);
            return new JsonResponse(['error' => $e->getErrorCode(),
                                     'message' => $e->getMessage()], $status);
        }
        return new JsonResponse(['id' => $id], 202);
    }
}
